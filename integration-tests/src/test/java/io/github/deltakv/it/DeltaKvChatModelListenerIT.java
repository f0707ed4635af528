package io.github.deltakv.it;

import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.common.AbstractChatModelListenerIT;
import dev.langchain4j.model.chat.listener.ChatModelListener;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import java.util.List;

/** LangChain4j's shared listener suite: listeners see request, response and errors. */
class DeltaKvChatModelListenerIT extends AbstractChatModelListenerIT {

    @Override
    protected ChatModel createModel(ChatModelListener listener) {
        return DeltaKvChatModel.builder()
                .engine(SuiteModels.engine())
                .temperature(temperature())
                .topP(topP())
                .maxTokens(maxTokens())
                .listeners(List.of(listener))
                .build();
    }

    @Override
    protected String modelName() {
        return SuiteModels.engine().modelName();
    }

    /** A model whose engine was closed: calls fail with IllegalStateException. */
    @Override
    protected ChatModel createFailingModel(ChatModelListener listener) {
        return DeltaKvChatModel.builder().engine(SuiteModels.closedEngine()).listeners(List.of(listener)).build();
    }

    @Override
    protected Class<? extends Exception> expectedExceptionClass() {
        return IllegalStateException.class;
    }

    @Override
    protected boolean supportsTools() {
        return SuiteModels.engine().templateSupportsTools(); // kvtiny's own template has no tool-call format
    }
}
