package io.github.deltakv.it;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.service.common.AbstractAiServiceWithToolsIT;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;

/**
 * LangChain4j's shared {@link AbstractAiServiceWithToolsIT} on our provider, on the suite model with a tool-capable chat template. Every case asserts that the model calls the right tool with the values the question gives (e.g.
 * add(37, 87)), or needs a call to happen before it can check anything, which needs a model that follows
 * requests; on kvtiny they are skipped with that reason
 * (the mechanics on kvtiny: ToolCallingIT).
 */
class DeltaKvAiServiceWithToolsIT extends AbstractAiServiceWithToolsIT {

    /** Cases that assert no skill of the model. */
    private static final Set<String> RUNS_ON_ANY_MODEL = Set.of();

    private DeltaKvChatModel model;

    @Override
    protected List<ChatModel> models() {
        if (model == null) {
            model = DeltaKvChatModel.builder().engine(SuiteModels.toolEngine()).temperature(0.0).maxTokens(256).build();
        }
        return List.of(model);
    }

    @BeforeEach
    void skipWhatTheModelCannotDo(TestInfo test) {
        SuiteModels.assumeFollowsRequests(test, RUNS_ON_ANY_MODEL, "that the model calls the right tool with the arguments the question gives (e.g. add(37, 87))");
    }

    @AfterAll
    void closeEngine() {
        SuiteModels.toolEngine().close();
    }
}
