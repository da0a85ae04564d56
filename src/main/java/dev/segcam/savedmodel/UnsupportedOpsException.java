package dev.segcam.savedmodel;

import java.util.List;
import java.util.Locale;

/**
 * An import that met ops it has no conversion for: lists every unsupported op type at once, with
 * how many nodes use it and the first of them (in graph order), so a user learns all the gaps in
 * one try. {@link #where()} names the first node of the first gap.
 */
public final class UnsupportedOpsException extends ImportException {
  /** One unsupported op type: its name, how many nodes use it, and the first such node. */
  public record Gap(String op, int count, String firstNode, String function) {
    String describe() {
      return String.format(
          Locale.ROOT,
          "unsupported op %s x%d (first '%s'%s)",
          op,
          count,
          firstNode,
          function == null ? "" : " in function '" + function + "'");
    }
  }

  private final List<Gap> gaps;
  private final ImportException other;

  UnsupportedOpsException(List<Gap> gaps, ImportException other, String file) {
    super(reasonOf(gaps, other), file, gaps.get(0).firstNode(), gaps.get(0).function(), other);
    this.gaps = List.copyOf(gaps);
    this.other = other;
  }

  private static String reasonOf(List<Gap> gaps, ImportException other) {
    int nodes = 0;
    for (Gap g : gaps) {
      nodes += g.count();
    }
    StringBuilder b =
        new StringBuilder(
            String.format(
                Locale.ROOT, "%d unsupported op type(s) in %d node(s): ", gaps.size(), nodes));
    for (int i = 0; i < gaps.size(); i++) {
      b.append(i == 0 ? "" : "; ").append(gaps.get(i).describe());
    }
    if (other != null) {
      b.append("; also: ").append(other.getMessage());
    }
    return b.toString();
  }

  /** Every unsupported op type, in the order the graph first uses them. */
  public List<Gap> gaps() {
    return gaps;
  }

  @Override
  ImportException withFile(String f) {
    if (where().file() != null) {
      return this;
    }
    UnsupportedOpsException e = new UnsupportedOpsException(gaps, other, f);
    e.setStackTrace(getStackTrace());
    return e;
  }
}
