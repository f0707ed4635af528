package io.github.deltakv.langchain4j.spring;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** The tiny model the starter's tests load, its identity DeltaKV compressor, and a runner of the starter. */
final class TestModel {

    static final Path KVTINY =
            Path.of(System.getProperty("deltakv.models.dir", "../models"), "kvtiny-retrieval-q8_0.gguf").toAbsolutePath();

    static final Path IDENTITY_COMPRESSOR = Path.of("..", "integration-tests", "src", "test", "resources", "deltakv",
            "kvtiny-identity.deltakv.gguf").toAbsolutePath();

    private TestModel() {
    }

    /** A runner of the starter's auto-configurations alone. */
    static ApplicationContextRunner starter() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(DeltaKvAutoConfig.class, DeltaKvHealthAutoConfig.class));
    }

    /** {@code properties} under {@code langchain4j.deltakv.}, after the tiny model's path and 2 threads. */
    static String[] withModel(String... properties) {
        List<String> all = new ArrayList<>(List.of("chat-model.model-path=" + KVTINY, "chat-model.threads=2"));
        all.addAll(List.of(properties));
        return all.stream().map(p -> DeltaKvProperties.PREFIX + "." + p).toArray(String[]::new);
    }
}
