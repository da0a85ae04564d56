package dev.segcam.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A test that needs the oneDNN native. Maven brings it for linux-x86_64, so it runs in CI; on a
 * platform where it cannot load the test is skipped with the probe's reason, unless {@code
 * -Dsegcam.onednn.required=true} asks for failures instead.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(OneDnnCondition.class)
public @interface RequiresOneDnn {}
