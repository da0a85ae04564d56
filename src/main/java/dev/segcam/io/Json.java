package dev.segcam.io;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;

/**
 * The one JSON configuration of segcam's documents (Jackson): each document is a Java record (its
 * schema), written with snake_case member names in the records' order, absent (null) members left
 * out unless a record says otherwise. JSON has no NaN or infinity: such numbers are passed through
 * {@link #finite} and written as null. Reading is strict: unknown members are errors.
 */
public final class Json {
  private static final ObjectMapper MAPPER =
      JsonMapper.builder()
          .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .serializationInclusion(JsonInclude.Include.NON_NULL)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
          .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
          .build();

  private Json() {}

  /** The mapper, for readers (tests, tools) of the documents. */
  public static ObjectMapper mapper() {
    return MAPPER;
  }

  /** A document as indented JSON (files people read), ending in a newline. */
  public static String pretty(Object doc) {
    try {
      return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(doc) + "\n";
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write " + doc.getClass().getSimpleName(), e);
    }
  }

  /** A document as one line (JSON lines, stdout), without the newline. */
  public static String line(Object doc) {
    try {
      return MAPPER.writeValueAsString(doc);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write " + doc.getClass().getSimpleName(), e);
    }
  }

  /** v, or null when it is NaN or infinite (JSON cannot say those). */
  public static Double finite(double v) {
    return Double.isFinite(v) ? v : null;
  }

  /** v, or null when it is NaN or infinite; kept a float so it prints as short as it is. */
  public static Float finite(float v) {
    return Float.isFinite(v) ? v : null;
  }

  /** Rounds milliseconds to microseconds for timings. */
  public static double ms(double v) {
    return Math.round(v * 1000) / 1000.0;
  }
}
