package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code linux-x86_64-cuda13} natives jar in place of the CPU one, in a JVM of its own: its libraries load
 * (on this machine's C library, though its CUDA backend was built on a GPU machine's newer one) and a model answers,
 * on the GPU where there is one, else on the CPU with ggml skipping the CUDA backend. Needs
 * {@code -Ddeltakv.cuda.natives.jar=PATH}: that jar is made from a CUDA backend built on a GPU machine (README,
 * "The CUDA natives jar").
 */
class CudaNativesJarIT {

    @Test
    void the_cuda_natives_jar_loads_and_answers(@TempDir Path extractTo) throws Exception {
        String jar = System.getProperty("deltakv.cuda.natives.jar", "");
        assumeTrue(!jar.isBlank(), "no linux-x86_64-cuda13 natives jar given (-Ddeltakv.cuda.natives.jar=PATH); "
                + "it is made from a CUDA backend built on a GPU machine");
        assertThat(Path.of(jar)).isRegularFile();
        String classPath = Stream.concat(
                        Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
                                .filter(entry -> !Path.of(entry).getFileName().toString()
                                        .startsWith("langchain4j-deltakv-natives")),
                        Stream.of(jar))
                .collect(Collectors.joining(File.pathSeparator));
        Path log = extractTo.resolve("run.log");
        Process run = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Ddeltakv.tmpdir=" + extractTo, "-cp", classPath, "io.github.deltakv.eval.Reliability",
                "--model", TestModels.kvtiny().toString(), "--cycles", "1")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertThat(run.waitFor(180, TimeUnit.SECONDS)).as("finished in 180 s").isTrue();
        String output = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(run.exitValue()).as(output).isZero();
        List<String> lines = output.lines().toList();
        assertThat(lines).as(output).anyMatch(l -> l.contains("natives loaded from") && l.contains("linux-x86_64-cuda13"));
        assertThat(lines).as(output).contains("cycles=1");
        try (Stream<Path> files = Files.walk(extractTo)) {
            Path cudaBackend = files.filter(f -> f.getFileName().toString().equals("libggml-cuda.so")).findFirst()
                    .orElseThrow();
            assertThat(newestGlibcNeeded(cudaBackend)).as("the newest glibc symbol version %s needs (this machine "
                    + "has %s)", cudaBackend, glibcHere()).isLessThanOrEqualTo(glibcHere());
        }
        if (Files.exists(Path.of("/dev/nvidia0"))) {
            assertThat(lines).as(output).anyMatch(l -> l.startsWith("devices=") && l.contains("CUDA0"));
        } else {
            assertThat(lines).as(output).anyMatch(l -> l.contains("the CUDA backend did not load"));
        }
    }

    /** The newest GLIBC_2.N a library's symbols need, as N (objdump). */
    static int newestGlibcNeeded(Path library) throws Exception {
        Matcher m = Pattern.compile("GLIBC_2\\.(\\d+)").matcher(command("objdump", "-T", library.toString()));
        int newest = 0;
        while (m.find()) {
            newest = Math.max(newest, Integer.parseInt(m.group(1)));
        }
        return newest;
    }

    /** This machine's glibc 2.N, as N. */
    static int glibcHere() throws Exception {
        Matcher m = Pattern.compile("glibc 2\\.(\\d+)").matcher(command("getconf", "GNU_LIBC_VERSION"));
        assertThat(m.find()).isTrue();
        return Integer.parseInt(m.group(1));
    }

    static String command(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor()).as(String.join(" ", command) + ": " + out).isZero();
        return out;
    }
}
