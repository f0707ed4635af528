package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** The native test tools built with the natives (deltakv-smoke, deltakv-sidefile), run as processes. */
final class NativeTools {

    /** What a tool printed (stdout and stderr together) and its exit code. */
    record Run(int exit, String output) {
    }

    private NativeTools() {
    }

    static Path model(String file) {
        return Path.of("..", "models", file).toAbsolutePath();
    }

    /** A public-domain English text (a Moby-Dick excerpt) kept with the integration tests. */
    static Path text() {
        return Path.of("..", "integration-tests", "src", "test", "resources", "moby-dick-excerpt.txt").toAbsolutePath();
    }

    /** The patched build's bin/, from the staged BUILD-INFO; skips the test when the native build was skipped. */
    static Path bin() throws IOException {
        return bin("deltakv.native.dir");
    }

    /** The stock (unpatched) reference build's bin/. */
    static Path stockBin() throws IOException {
        return bin("deltakv.stock.dir");
    }

    private static Path bin(String property) throws IOException {
        Path nativeDir = Path.of(System.getProperty(property, "target/none"));
        assumeTrue(Files.isRegularFile(nativeDir.resolve("BUILD-INFO")), "native build skipped (-DskipNative)");
        return Files.readAllLines(nativeDir.resolve("BUILD-INFO")).stream()
                .filter(l -> l.startsWith("build.dir=")).map(l -> Path.of(l.substring("build.dir=".length()), "bin"))
                .findFirst().orElseThrow();
    }

    static Run run(Path workDir, String tool, String... args) throws Exception {
        return run(bin(), workDir, tool, args);
    }

    static Run run(Path bin, Path workDir, String tool, String... args) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(bin.resolve(tool).toString());
        command.addAll(List.of(args));
        Path log = Files.createTempFile(workDir, tool, ".log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        // a bound against hangs, not a speed goal: a loaded 2-core machine takes minutes for the memory test
        assertThat(p.waitFor(10, TimeUnit.MINUTES)).as("%s finished in time", tool).isTrue();
        return new Run(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }
}
