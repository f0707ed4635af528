package io.github.deltakv.langchain4j.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Reads an answer that may hold tool calls while it grows, as llama-server does: on each new piece of text it
 * parses all the text so far and hands the listener what is new (content, tool-call arguments). Tool calls get
 * an id here when the model gives none, and keep it.
 */
public final class ToolCallStream implements Consumer<String> {

    /** Parses the answer so far; {@code partial}: more may follow. */
    public interface Parser {
        ChatAnswer parse(String text, boolean partial);
    }

    private final Parser parser;
    private final AnswerListener listener;
    private final boolean incremental;
    private final StringBuilder text = new StringBuilder();
    private final List<String> ids = new ArrayList<>();
    private final List<String> argumentsSent = new ArrayList<>();
    private String contentSent = "";

    /** @param incremental parse after every piece (for a listener that streams); else only at the end */
    public ToolCallStream(Parser parser, AnswerListener listener, boolean incremental) {
        this.parser = parser;
        this.listener = listener;
        this.incremental = incremental;
    }

    @Override
    public void accept(String piece) {
        text.append(piece);
        if (!incremental) {
            return;
        }
        ChatAnswer answer;
        try {
            answer = parser.parse(text.toString(), true);
        } catch (RuntimeException e) {
            return; // not readable yet: wait for more text
        }
        handOver(answer);
    }

    /** The whole answer read back (ids filled in); the listener gets what it has not had yet. */
    public ChatAnswer finish() {
        ChatAnswer answer = parser.parse(text.toString(), false);
        return handOver(answer);
    }

    /** The text received so far. */
    public String text() {
        return text.toString();
    }

    private ChatAnswer handOver(ChatAnswer answer) {
        String content = answer.content();
        if (content.startsWith(contentSent) && content.length() > contentSent.length()) {
            listener.onText(content.substring(contentSent.length()));
            contentSent = content;
        }
        List<ChatAnswer.ToolCall> calls = new ArrayList<>();
        for (int i = 0; i < answer.toolCalls().size(); i++) {
            ChatAnswer.ToolCall call = answer.toolCalls().get(i);
            if (ids.size() == i) {
                ids.add(call.id().isEmpty() ? "call_" + UUID.randomUUID().toString().replace("-", "") : call.id());
                argumentsSent.add("");
            }
            String id = ids.get(i);
            calls.add(new ChatAnswer.ToolCall(id, call.name(), call.arguments()));
            String sent = argumentsSent.get(i);
            String arguments = call.arguments();
            if (call.name().isEmpty() || !arguments.startsWith(sent)) {
                continue;
            }
            String delta = arguments.substring(sent.length());
            if (!delta.isBlank()) { // whitespace alone waits for the next piece: a partial call is never blank
                listener.onPartialToolCall(i, id, call.name(), delta);
                argumentsSent.set(i, arguments);
            }
        }
        return new ChatAnswer(content, answer.reasoning(), List.copyOf(calls));
    }
}
