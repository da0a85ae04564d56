package dev.segcam.cam;

import dev.segcam.ir.UnknownNodeException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Class names, one per line: line i (0-based) names class i. Surrounding whitespace is trimmed;
 * trailing empty lines are dropped, but an empty line in the middle keeps its index (an unnamed
 * class). Names are matched exactly, then case-insensitively.
 */
public final class Labels {
  private final List<String> names;
  private final Map<String, Integer> index = new HashMap<>();

  public Labels(List<String> names) {
    this.names = List.copyOf(names);
    for (int i = 0; i < this.names.size(); i++) {
      String n = this.names.get(i);
      if (!n.isEmpty()) {
        index.putIfAbsent(n, i);
      }
    }
  }

  public static Labels load(Path file) {
    List<String> lines;
    try {
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new CamException.InputFileException("cannot read labels file " + file + ": " + e, e);
    }
    List<String> names = new ArrayList<>();
    for (String l : lines) {
      names.add(l.strip());
    }
    while (!names.isEmpty() && names.get(names.size() - 1).isEmpty()) {
      names.remove(names.size() - 1);
    }
    return new Labels(names);
  }

  public int size() {
    return names.size();
  }

  public List<String> names() {
    return names;
  }

  /** Name of class i, or "class i" when the file has no (or an empty) line for it. */
  public String name(int i) {
    return i >= 0 && i < names.size() && !names.get(i).isEmpty() ? names.get(i) : "class " + i;
  }

  /**
   * Index of a class name; throws {@link CamException.ClassOutOfRangeException} with suggestions.
   */
  public int index(String name) {
    Integer i = index.get(name);
    if (i != null) {
      return i;
    }
    for (int j = 0; j < names.size(); j++) {
      if (names.get(j).equalsIgnoreCase(name)) {
        return j;
      }
    }
    List<String> close =
        names.stream()
            .filter(n -> !n.isEmpty())
            .sorted(
                Comparator.comparingInt((String n) -> UnknownNodeException.editDistance(name, n))
                    .thenComparing(n -> n))
            .limit(5)
            .toList();
    throw new CamException.ClassOutOfRangeException(
        "unknown class name '"
            + name
            + "' ("
            + names.size()
            + " labels)"
            + (close.isEmpty() ? "" : "; did you mean " + close + "?"));
  }
}
