package io.github.deltakv.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The native build the provider's libraries come from, found through their BUILD-INFO (in the natives jar, or in
 * the folder {@code deltakv.native.path} names): its llama.cpp source tree and the programs built beside the
 * libraries (ggml-rpc-server, llama-server). A test that needs one is skipped when that build is not on this machine.
 */
final class NativeBuild {

    private static final String BUILD_INFO = "META-INF/native/deltakv/linux-x86_64/BUILD-INFO";

    private NativeBuild() {
    }

    /** The patched llama.cpp source tree. */
    static Path llamaSourceDir() {
        return Path.of(value(Pattern.compile("-DLLAMA_SRC_DIR=(\\S+)"), "the llama.cpp source tree"));
    }

    /** A program of the native build, e.g. "ggml-rpc-server". */
    static Path program(String name) {
        Path file = Path.of(value(Pattern.compile("(?m)^build\\.dir=(.+)$"), "the build folder"), "bin", name);
        assumeTrue(Files.isExecutable(file), name + " is not built on this machine (" + file + ")");
        return file;
    }

    private static String value(Pattern pattern, String what) {
        String info = buildInfo();
        Matcher m = pattern.matcher(info == null ? "" : info);
        assumeTrue(m.find(), "the natives' BUILD-INFO does not name " + what);
        return m.group(1).strip();
    }

    private static String buildInfo() {
        try {
            String dir = System.getProperty("deltakv.native.path", System.getenv("DELTAKV_NATIVE_PATH"));
            if (dir != null && !dir.isBlank()) {
                Path file = Path.of(dir, "BUILD-INFO");
                return Files.isRegularFile(file) ? Files.readString(file) : null;
            }
            try (InputStream in = NativeBuild.class.getClassLoader().getResourceAsStream(BUILD_INFO)) {
                return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
