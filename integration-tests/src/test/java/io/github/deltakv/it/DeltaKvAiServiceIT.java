package io.github.deltakv.it;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.service.common.AbstractAiServiceIT;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;

/**
 * LangChain4j's shared {@link AbstractAiServiceIT} on our provider, on the suite model with a tool-capable chat template. Its cases assert world knowledge (the capital of Germany) and tool use; on kvtiny they are skipped
 * with that reason.
 */
class DeltaKvAiServiceIT extends AbstractAiServiceIT {

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
        SuiteModels.assumeFollowsRequests(test, RUNS_ON_ANY_MODEL, "world knowledge ('What is the capital of Germany?' answered with Berlin) or a tool called with the question's values");
    }

    @AfterAll
    void closeEngine() {
        SuiteModels.toolEngine().close();
    }
}
