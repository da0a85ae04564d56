package dev.segcam.spark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Function;

/**
 * Reads up to n items at a time from a partition, maps each chunk to as many outputs, and yields
 * them before reading the next chunk: a partition streams through in batches, never held whole.
 */
final class Batching<A, B> implements Iterator<B> {
  private final Iterator<A> in;
  private final Function<List<A>, List<B>> fn;
  private final int n;
  private Iterator<B> current = Collections.emptyIterator();

  Batching(Iterator<A> in, Function<List<A>, List<B>> fn, int n) {
    this.in = in;
    this.fn = fn;
    this.n = n;
  }

  @Override
  public boolean hasNext() {
    while (!current.hasNext() && in.hasNext()) {
      List<A> chunk = new ArrayList<>(n);
      while (chunk.size() < n && in.hasNext()) {
        chunk.add(in.next());
      }
      current = fn.apply(chunk).iterator();
    }
    return current.hasNext();
  }

  @Override
  public B next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    return current.next();
  }
}
