package io.github.deltakv.it;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the tests find their models: {@code -Ddeltakv.models.dir} (the build points it at
 * ../shared/models when present, else at the models vendored in the repo).
 *
 * <p>The shared LangChain4j suites run on {@code -Ddeltakv.suite.model=PATH} (default: kvtiny). Set
 * {@code -Ddeltakv.suite.model.knows-world=true} for a real model that knows world facts, and the suites'
 * knowledge-dependent cases run too.
 */
final class TestModels {

    private TestModels() {
    }

    static Path dir() {
        return Path.of(System.getProperty("deltakv.models.dir", "../models"));
    }

    /** 12.9M-parameter retrieval chat model (Phi-3 template, 16K context). */
    static Path kvtiny() {
        return existing(dir().resolve("kvtiny-retrieval-q8_0.gguf"));
    }

    /** 260K-parameter TinyStories model (no chat template). */
    static Path stories() {
        return existing(dir().resolve("stories260K.gguf"));
    }

    static Path suiteModel() {
        String configured = System.getProperty("deltakv.suite.model");
        return configured == null || configured.isBlank() ? kvtiny() : existing(Path.of(configured));
    }

    /** Whether the suite model can answer world-knowledge questions (tiny models cannot). */
    static boolean suiteModelKnowsWorld() {
        return Boolean.getBoolean("deltakv.suite.model.knows-world");
    }

    static Path evaldata() {
        return Path.of(System.getProperty("deltakv.evaldata.dir", "../../shared/evaldata"));
    }

    /** kvtiny with greedy decoding, as the retrieval tests score it. */
    static DeltaKvChatModel kvtinyGreedy(int contextSize, int maxTokens) {
        return DeltaKvChatModel.builder()
                .modelPath(kvtiny())
                .contextSize(contextSize)
                .threads(threads())
                .temperature(0.0)
                .maxTokens(maxTokens)
                .build();
    }

    static int threads() {
        return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
    }

    private static Path existing(Path p) {
        if (!Files.isRegularFile(p)) {
            throw new IllegalStateException("test model missing: " + p.toAbsolutePath());
        }
        return p;
    }
}
