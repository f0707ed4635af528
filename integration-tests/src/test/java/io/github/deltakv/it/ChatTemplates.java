package io.github.deltakv.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Chat templates of real models, read from the llama.cpp source tree the natives were built from (its
 * {@code models/templates}; never copied into this repository). The tree is found through the natives'
 * BUILD-INFO ({@code -DLLAMA_SRC_DIR=...}); a test that needs one is skipped when the tree is not on this machine.
 */
final class ChatTemplates {

    private ChatTemplates() {
    }

    /** Qwen2.5-Instruct's template: tools in the system prompt, calls as {@code <tool_call>{json}</tool_call>}. */
    static String qwen25() {
        return read("Qwen-Qwen2.5-7B-Instruct.jinja");
    }

    static String read(String name) {
        Path file = NativeBuild.llamaSourceDir().resolve("models/templates").resolve(name);
        assumeTrue(Files.isRegularFile(file), "the llama.cpp source tree's template " + file + " is not on this machine");
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
