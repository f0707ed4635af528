package io.github.deltakv.it;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.service.common.AbstractAiServiceWithJsonSchemaIT;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import java.util.List;
import java.util.Set;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;

/**
 * LangChain4j's shared {@link AbstractAiServiceWithJsonSchemaIT} on our provider, on the suite model. Every case asserts the values the model extracts from a text (e.g. a person named Klaus, 37 years
 * old), which needs a model that follows requests; on kvtiny they are skipped with that reason (the JSON mechanics
 * on kvtiny: StructuredOutputIT).
 */
class DeltaKvAiServiceWithJsonSchemaIT extends AbstractAiServiceWithJsonSchemaIT {

    /** Cases that assert no skill of the model. */
    private static final Set<String> RUNS_ON_ANY_MODEL = Set.of();

    private DeltaKvChatModel model;

    @Override
    protected List<ChatModel> models() {
        if (model == null) {
            model = DeltaKvChatModel.builder().engine(SuiteModels.engine()).temperature(0.0).maxTokens(256).build();
        }
        return List.of(model);
    }

    @BeforeEach
    void skipWhatTheModelCannotDo(TestInfo test) {
        SuiteModels.assumeFollowsRequests(test, RUNS_ON_ANY_MODEL, "the values the model extracts from a text into the schema (e.g. Klaus, 37)");
    }

    @AfterAll
    void closeEngine() {
        SuiteModels.engine().close();
    }
}
