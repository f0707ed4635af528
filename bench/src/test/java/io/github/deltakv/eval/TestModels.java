package io.github.deltakv.eval;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the harness's tests find the model and the shared eval set: {@code -Ddeltakv.models.dir} and
 * {@code -Ddeltakv.evaldata.dir} (the build sets both, as for integration-tests).
 */
final class TestModels {

    private TestModels() {
    }

    /** 12.9M-parameter retrieval chat model (Phi-3 template, 16K context). */
    static Path kvtiny() {
        Path model = Path.of(System.getProperty("deltakv.models.dir", "../models"), "kvtiny-retrieval-q8_0.gguf");
        if (!Files.isRegularFile(model)) {
            throw new IllegalStateException("test model missing: " + model.toAbsolutePath());
        }
        return model;
    }

    static Path evaldata() {
        return Path.of(System.getProperty("deltakv.evaldata.dir", "../../shared/evaldata"));
    }

    static int threads() {
        return Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
    }
}
