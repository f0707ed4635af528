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
 * Chat templates of real models, read from the llama.cpp source tree the natives were built from (its
 * {@code models/templates}; never copied into this repository). The tree is found through the natives'
 * BUILD-INFO ({@code -DLLAMA_SRC_DIR=...}); a test that needs one is skipped when the tree is not on this machine.
 */
final class ChatTemplates {

    private static final String BUILD_INFO = "META-INF/native/deltakv/linux-x86_64/BUILD-INFO";
    private static final Pattern SOURCE_DIR = Pattern.compile("-DLLAMA_SRC_DIR=(\\S+)");

    private ChatTemplates() {
    }

    /** Qwen2.5-Instruct's template: tools in the system prompt, calls as {@code <tool_call>{json}</tool_call>}. */
    static String qwen25() {
        return read("Qwen-Qwen2.5-7B-Instruct.jinja");
    }

    static String read(String name) {
        Path file = llamaSourceDir().resolve("models/templates").resolve(name);
        assumeTrue(Files.isRegularFile(file), "the llama.cpp source tree's template " + file + " is not on this machine");
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path llamaSourceDir() {
        String info = buildInfo();
        Matcher m = SOURCE_DIR.matcher(info == null ? "" : info);
        assumeTrue(m.find(), "the natives' BUILD-INFO does not name the llama.cpp source tree");
        return Path.of(m.group(1));
    }

    private static String buildInfo() {
        try {
            String dir = System.getProperty("deltakv.native.path", System.getenv("DELTAKV_NATIVE_PATH"));
            if (dir != null && !dir.isBlank()) {
                Path file = Path.of(dir, "BUILD-INFO");
                return Files.isRegularFile(file) ? Files.readString(file) : null;
            }
            try (InputStream in = ChatTemplates.class.getClassLoader().getResourceAsStream(BUILD_INFO)) {
                return in == null ? null : new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
