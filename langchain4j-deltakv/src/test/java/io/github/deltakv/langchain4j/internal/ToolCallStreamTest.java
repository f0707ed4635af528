package io.github.deltakv.langchain4j.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

class ToolCallStreamTest {

    /** A stand-in for the template's parser: content, then calls written as {@code @name(args)}. */
    static ChatAnswer parse(String text, boolean partial) {
        int at = text.indexOf('@');
        String content = at < 0 ? text : text.substring(0, at);
        List<ChatAnswer.ToolCall> calls = new ArrayList<>();
        Matcher m = Pattern.compile("@(\\w+)\\(([^)]*)\\)?").matcher(text);
        while (m.find()) {
            calls.add(new ChatAnswer.ToolCall("", m.group(1), m.group(2)));
        }
        return new ChatAnswer(content, "", calls);
    }

    final StringBuilder content = new StringBuilder();
    final List<String> pieces = new ArrayList<>();
    final AnswerListener listener = new AnswerListener() {
        @Override
        public void onText(String text) {
            content.append(text);
        }

        @Override
        public void onPartialToolCall(int index, String id, String name, String partialArguments) {
            pieces.add(index + "|" + id + "|" + name + "|" + partialArguments);
        }
    };

    @Test
    void hands_over_content_and_arguments_as_they_grow_with_stable_ids() {
        ToolCallStream stream = new ToolCallStream(ToolCallStreamTest::parse, listener, true);
        for (String piece : List.of("Let me", " add. ", "@add({\"a\":", " ", "2}", ")", "@mul(", "{}")) {
            stream.accept(piece);
        }
        ChatAnswer answer = stream.finish();

        assertThat(content).hasToString("Let me add. ");
        assertThat(answer.toolCalls()).extracting(ChatAnswer.ToolCall::name).containsExactly("add", "mul");
        String addId = answer.toolCalls().get(0).id();
        assertThat(addId).startsWith("call_");
        assertThat(answer.toolCalls().get(1).id()).startsWith("call_").isNotEqualTo(addId);
        // the blank piece " " waited for the next one: no partial call is blank
        assertThat(pieces).containsExactly("0|" + addId + "|add|{\"a\":", "0|" + addId + "|add| 2}",
                "1|" + answer.toolCalls().get(1).id() + "|mul|{}");
    }

    @Test
    void without_a_streaming_listener_it_parses_once_at_the_end() {
        int[] parses = {0};
        ToolCallStream stream = new ToolCallStream((text, partial) -> {
            parses[0]++;
            return parse(text, partial);
        }, listener, false);
        stream.accept("@add(1");
        stream.accept(")");

        assertThat(stream.finish().toolCalls()).singleElement().extracting(ChatAnswer.ToolCall::arguments).isEqualTo("1");
        assertThat(parses[0]).isEqualTo(1);
    }

    @Test
    void text_the_parser_cannot_read_yet_waits() {
        ToolCallStream stream = new ToolCallStream((text, partial) -> {
            if (partial && text.endsWith("<")) {
                throw new IllegalStateException("not yet");
            }
            return parse(text, partial);
        }, listener, true);
        stream.accept("a <");
        stream.accept("b");
        stream.finish();

        assertThat(content).hasToString("a <b");
    }
}
