package io.github.deltakv.langchain4j;

import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.model.TokenCountEstimator;

import java.util.ArrayList;
import java.util.List;

/**
 * Counts tokens with the model's own tokenizer and chat template, so that LangChain4j's
 * {@code TokenWindowChatMemory} keeps exactly as many messages as fit. Messages are counted as the model
 * sees them: rendered by its chat template (role tags included) and tokenized, as a prompt ready for
 * the answer.
 *
 * <pre>{@code
 * ChatMemory memory = TokenWindowChatMemory.withMaxTokens(8000, new DeltaKvTokenCountEstimator(model.engine()));
 * }</pre>
 */
public class DeltaKvTokenCountEstimator implements TokenCountEstimator {

    private final DeltaKvEngine engine;

    public DeltaKvTokenCountEstimator(DeltaKvEngine engine) {
        if (engine == null) {
            throw new IllegalArgumentException("engine is required");
        }
        this.engine = engine;
    }

    /** Tokens of the text alone (no template, no BOS). */
    @Override
    public int estimateTokenCountInText(String text) {
        return engine.tokenize(text).length;
    }

    /** Tokens of the message as the template renders it on its own. */
    @Override
    public int estimateTokenCountInMessage(ChatMessage message) {
        return engine.countPromptTokens(List.of(message));
    }

    /** Tokens of the whole prompt the messages make, as a call would send it. */
    @Override
    public int estimateTokenCountInMessages(Iterable<ChatMessage> messages) {
        List<ChatMessage> list = new ArrayList<>();
        messages.forEach(list::add);
        return list.isEmpty() ? 0 : engine.countPromptTokens(list);
    }
}
