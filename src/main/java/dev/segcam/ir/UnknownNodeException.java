package dev.segcam.ir;

import dev.segcam.SegcamException;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/** A node (layer) name that is not in the graph; the message suggests the closest names. */
public class UnknownNodeException extends SegcamException {
  private final List<String> suggestions;

  public UnknownNodeException(String message, List<String> suggestions) {
    super(message);
    this.suggestions = List.copyOf(suggestions);
  }

  public List<String> suggestions() {
    return suggestions;
  }

  static UnknownNodeException of(String name, Collection<String> known) {
    List<String> close =
        known.stream()
            .sorted(Comparator.comparingInt((String k) -> distance(name, k)).thenComparing(k -> k))
            .limit(5)
            .toList();
    return new UnknownNodeException(
        "unknown layer '" + name + "'" + (close.isEmpty() ? "" : "; did you mean " + close + "?"),
        close);
  }

  /** Levenshtein distance, case-insensitive, with a bonus for substring matches. */
  static int distance(String a, String b) {
    String x = a.toLowerCase();
    String y = b.toLowerCase();
    if (y.contains(x) || x.contains(y)) {
      return Math.abs(x.length() - y.length()) / 4;
    }
    return editDistance(x, y);
  }

  /** Levenshtein distance, case-insensitive (also for "did you mean" on class names). */
  public static int editDistance(String a, String b) {
    String x = a.toLowerCase();
    String y = b.toLowerCase();
    int[] prev = new int[y.length() + 1];
    int[] cur = new int[y.length() + 1];
    for (int j = 0; j <= y.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= x.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= y.length(); j++) {
        int c = x.charAt(i - 1) == y.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + c);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[y.length()];
  }
}
