package io.github.deltakv.it;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.argThat;
import static org.mockito.Mockito.atLeastOnce;

import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.chat.listener.ChatModelListener;
import dev.langchain4j.model.chat.common.AbstractStreamingChatModelIT;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.response.ChatResponseMetadata;

import io.github.deltakv.langchain4j.DeltaKvStreamingChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatRequestParameters;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;

import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.mockito.InOrder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LangChain4j's shared {@link StreamingChatModel} suite on our provider. Capabilities it does not have (images,
 * choosing another model per request) are declared unsupported, and the suite checks that they fail with
 * UnsupportedFeatureException; so are tools when the suite model's chat template has no tool-call format
 * (kvtiny's has none; tool calling on kvtiny with a tool-capable template: ToolCallingIT). Cases that need world
 * knowledge are skipped on the tiny test models with an assumption that says so.
 */
class DeltaKvStreamingChatModelIT extends AbstractStreamingChatModelIT {

    private DeltaKvStreamingChatModel model;

    @Override
    protected List<StreamingChatModel> models() {
        if (model == null) {
            model = DeltaKvStreamingChatModel.builder().engine(SuiteModels.engine()).build();
        }
        return List.of(model);
    }

    @Override
    protected StreamingChatModel createModelWith(ChatRequestParameters parameters) {
        return DeltaKvStreamingChatModel.builder().engine(SuiteModels.engine()).defaultRequestParameters(parameters).build();
    }

    /**
     * Used only by the suite's three user-exception cases, which assert that the answer to "What is the
     * capital of Germany?" contains "Berlin"; StreamingHandlerErrorsIT covers the same mechanics in-context.
     */
    @Override
    public StreamingChatModel createModelWith(ChatModelListener listener) {
        SuiteModels.assumeWorldKnowledge("that the answer to 'What is the capital of Germany?' contains 'Berlin'");
        return DeltaKvStreamingChatModel.builder().engine(SuiteModels.engine()).listeners(List.of(listener)).build();
    }

    @Override
    protected ChatRequestParameters createIntegrationSpecificParameters(int maxOutputTokens) {
        return DeltaKvChatRequestParameters.builder().maxOutputTokens(maxOutputTokens).build();
    }

    @Override
    protected Class<? extends ChatResponseMetadata> chatResponseMetadataType(StreamingChatModel model) {
        return DeltaKvChatResponseMetadata.class;
    }

    @AfterAll
    void closeEngine() {
        SuiteModels.engine().close();
    }

    @Override
    @ParameterizedTest
    @MethodSource("models")
    protected void should_respect_user_message(StreamingChatModel model) {
        SuiteModels.assumeWorldKnowledge("that the answer to 'What is the capital of Germany?' contains 'Berlin'");
        super.should_respect_user_message(model);
    }

    @Override
    @ParameterizedTest
    @MethodSource("models")
    protected void should_respect_system_message(StreamingChatModel model) {
        SuiteModels.assumeWorldKnowledge("that 'I love you' translated into German contains 'liebe'");
        super.should_respect_system_message(model);
    }

    @Override
    @ParameterizedTest
    @MethodSource("models")
    protected void should_respect_multiple_messages(StreamingChatModel model) {
        SuiteModels.assumeWorldKnowledge("that a free-form chat recalls 'green' from an earlier turn "
                + "(conversation skills beyond the tiny model's retrieval formats)");
        super.should_respect_multiple_messages(model);
    }

    @Override
    @ParameterizedTest
    @MethodSource("models")
    protected void should_respect_stopSequences_in_chat_request(StreamingChatModel model) {
        SuiteModels.assumeWorldKnowledge("that the model obeys \"Say 'Hello World'\" (stop sequences are "
                + "tested on in-context answers in StopSequencesIT)");
        super.should_respect_stopSequences_in_chat_request(model);
    }

    @Override
    @Test
    @EnabledIf("supportsStopSequencesParameter")
    protected void should_respect_stopSequences_in_default_model_parameters() {
        SuiteModels.assumeWorldKnowledge("that the model obeys \"Say 'Hello World'\" (stop sequences are "
                + "tested on in-context answers in StopSequencesIT)");
        super.should_respect_stopSequences_in_default_model_parameters();
    }

    @Override
    @ParameterizedTest
    @MethodSource("modelsSupportingStructuredOutputs")
    protected void should_respect_JSON_response_format(StreamingChatModel model) {
        SuiteModels.assumeWorldKnowledge("that the JSON answer to 'What is the capital of Germany?' is {\"city\": \"Berlin\"} "
                + "(JSON mechanics: StructuredOutputIT)");
        super.should_respect_JSON_response_format(model);
    }

    @Override
    @ParameterizedTest
    @MethodSource("modelsSupportingStructuredOutputs")
    protected void should_respect_JSON_response_format_with_schema(StreamingChatModel model) {
        SuiteModels.assumeWorldKnowledge("that the schema-shaped answer to 'What is the capital of Germany?' is Berlin "
                + "(JSON mechanics: StructuredOutputIT)");
        super.should_respect_JSON_response_format_with_schema(model);
    }

    @Override
    @ParameterizedTest
    @MethodSource("models")
    protected void should_respect_JsonRawSchema_responseFormat(StreamingChatModel model) {
        SuiteModels.assumeWorldKnowledge("that the raw-schema answer to 'What is the capital of Germany?' is Berlin "
                + "(JSON mechanics: StructuredOutputIT)");
        super.should_respect_JsonRawSchema_responseFormat(model);
    }

    /** A tool call streams as pieces of its arguments, then one complete call. */
    @Override
    protected void verifyToolCallbacks(StreamingChatResponseHandler handler, InOrder io, String id) {
        io.verify(handler, atLeastOnce()).onPartialToolCall(argThat(call -> call.index() == 0 && id.equals(call.id())),
                any());
        io.verify(handler).onCompleteToolCall(argThat(call -> call.index() == 0
                && id.equals(call.toolExecutionRequest().id())));
    }

    @Override
    protected boolean supportsModelNameParameter() {
        return false; // one model per engine
    }

    @Override
    protected boolean supportsTools() {
        return SuiteModels.engine().templateSupportsTools(); // kvtiny's own template has no tool-call format
    }

    @Override
    protected boolean supportsToolChoiceRequired() {
        return SuiteModels.engine().templateSupportsTools();
    }

    @Override
    protected boolean supportsSingleImageInputAsBase64EncodedString() {
        return false; // text-only models
    }

    @Override
    protected boolean supportsSingleImageInputAsPublicURL() {
        return false;
    }
}
