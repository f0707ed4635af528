package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

/**
 * The provider's JNI calls checked by the JVM: {@link JniWorkload} in a JVM of its own under {@code -Xcheck:jni}
 * (which reports a call made with an exception pending, a bad reference, a wrong type) ends normally and reports
 * nothing.
 */
class JniCheckIT {

    @Test
    void every_kind_of_jni_call_passes_the_jvm_checks() throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process process = new ProcessBuilder(List.of(java.toString(), "-Xcheck:jni",
                "-cp", System.getProperty("java.class.path"), JniWorkload.class.getName()))
                .redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(5, TimeUnit.MINUTES)).isTrue();

        assertThat(output).contains("jni workload done");
        output.lines().filter(l -> l.startsWith("rpc leg")).forEach(System.out::println);
        assertThat(process.exitValue()).as(output).isZero();
        assertThat(output).doesNotContain("WARNING in native method").doesNotContain("FATAL ERROR in native method");
    }
}
