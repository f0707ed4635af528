package io.github.deltakv.eval;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.UserMessage;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import java.util.List;

import org.junit.jupiter.api.Test;

/** The accuracy suite's own prompts: the length cell filled by the model's tokenizer, the answer in the text, seeded. */
class TaskGeneratorIT {

    @Test
    void prompts_fill_their_length_hold_their_answer_and_repeat_for_a_seed() {
        try (DeltaKvChatModel model = DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(4608)
                .threads(TestModels.threads()).temperature(0.0).maxTokens(16).build()) {
            TaskGenerator generator = new TaskGenerator(model.engine()::countPromptTokens, 5);
            for (String task : TaskGenerator.TASKS) {
                List<Prompt> prompts = generator.generate(task, 4096, 1);
                assertThat(prompts).hasSize(task.equals("kv_multiturn") ? 3 : 1);
                for (Prompt p : prompts) {
                    int tokens = model.engine().countPromptTokens(p.messages());
                    assertThat(tokens).as(task).isBetween(3500, 4096 - 16);
                    String text = String.join("\n", p.messages().stream().map(TaskGeneratorIT::text).toList());
                    for (String part : p.answer().split(" ")) {
                        assertThat(text).as(task).contains(part);
                    }
                }
            }
            // kv_multiturn: one conversation, each turn extends the one before with the reference answer
            List<Prompt> turns = generator.generate("kv_multiturn", 4096, 1);
            assertThat(turns.get(1).messages().subList(0, 1)).isEqualTo(turns.get(0).messages());
            assertThat(text(turns.get(1).messages().get(1))).isEqualTo(turns.get(0).answer());

            // the same seed makes the same prompts, another seed others
            List<Prompt> a = new TaskGenerator(model.engine()::countPromptTokens, 5).generate("niah_single", 4096, 1);
            List<Prompt> b = new TaskGenerator(model.engine()::countPromptTokens, 5).generate("niah_single", 4096, 1);
            List<Prompt> c = new TaskGenerator(model.engine()::countPromptTokens, 6).generate("niah_single", 4096, 1);
            assertThat(b).isEqualTo(a);
            assertThat(text(c.get(0).messages().get(0))).isNotEqualTo(text(a.get(0).messages().get(0)));
        }
    }

    private static String text(ChatMessage m) {
        return m instanceof UserMessage u ? u.singleText() : ((AiMessage) m).text();
    }
}
