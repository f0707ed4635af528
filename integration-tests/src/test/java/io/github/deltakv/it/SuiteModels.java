package io.github.deltakv.it;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.github.deltakv.langchain4j.DeltaKvEngine;

import java.util.Set;

import org.junit.jupiter.api.TestInfo;

/**
 * The one engine the LangChain4j shared suites run on (the model of {@code -Ddeltakv.suite.model},
 * kvtiny by default), loaded once per JVM, and the reason given when a suite case needs world knowledge.
 */
final class SuiteModels {

    private static DeltaKvEngine engine;
    private static DeltaKvEngine toolEngine;

    private SuiteModels() {
    }

    static synchronized DeltaKvEngine engine() {
        if (engine == null || engine.isClosed()) {
            engine = suiteEngine().build();
        }
        return engine;
    }

    /**
     * The engine of the tool-calling suites: the suite model, with Qwen2.5's chat template (from the llama.cpp tree)
     * when the model's own template has no tool-call format (kvtiny's has none).
     */
    static synchronized DeltaKvEngine toolEngine() {
        if (toolEngine == null || toolEngine.isClosed()) {
            DeltaKvEngine own = engine();
            toolEngine = own.templateSupportsTools() ? own : suiteEngine().chatTemplate(ChatTemplates.qwen25()).build();
        }
        return toolEngine;
    }

    /**
     * Skips a suite case, other than those in {@code runsOnAnyModel}, that asserts what only a model following the
     * request can do; {@code family} says what the suite's cases assert.
     */
    static void assumeFollowsRequests(TestInfo test, Set<String> runsOnAnyModel, String family) {
        String name = test.getTestMethod().map(java.lang.reflect.Method::getName).orElse(test.getDisplayName());
        if (runsOnAnyModel.contains(name)) {
            return;
        }
        assumeTrue(TestModels.suiteModelKnowsWorld(), () -> name + " needs a model that follows requests: it asserts "
                + family + "; " + TestModels.suiteModel().getFileName() + " only retrieves from its prompt "
                + "(run with -Ddeltakv.suite.model=<real model> -Ddeltakv.suite.model.knows-world=true)");
    }

    private static DeltaKvEngine.Builder suiteEngine() {
        return DeltaKvEngine.builder().modelPath(TestModels.suiteModel()).contextSize(2048).threads(TestModels.threads());
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
