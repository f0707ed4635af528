package io.github.deltakv.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.deltakv.langchain4j.DeltaKvEngine;

/**
 * The one engine the LangChain4j shared suites run on (the model of {@code -Ddeltakv.suite.model},
 * kvtiny by default), loaded once per JVM, and the reason given when a suite case needs world knowledge.
 */
final class SuiteModels {

    private static DeltaKvEngine engine;

    private SuiteModels() {
    }

    static synchronized DeltaKvEngine engine() {
        if (engine == null || engine.isClosed()) {
            engine = DeltaKvEngine.builder()
                    .modelPath(TestModels.suiteModel())
                    .contextSize(2048)
                    .threads(TestModels.threads())
                    .build();
        }
        return engine;
    }

    /** A closed engine: every call on a model over it fails with IllegalStateException. */
    static DeltaKvEngine closedEngine() {
        DeltaKvEngine closed = DeltaKvEngine.builder().modelPath(TestModels.suiteModel()).contextSize(256).threads(1).build();
        closed.close();
        return closed;
    }

    /** Skips a suite case whose assertion needs facts about the world that the tiny test models lack. */
    static void assumeWorldKnowledge(String whatTheCaseAsserts) {
        assumeTrue(TestModels.suiteModelKnowsWorld(), () -> "needs world knowledge: it asserts " + whatTheCaseAsserts
                + "; " + TestModels.suiteModel().getFileName() + " knows only what is in its prompt "
                + "(run with -Ddeltakv.suite.model=<real model> -Ddeltakv.suite.model.knows-world=true)");
    }
}
