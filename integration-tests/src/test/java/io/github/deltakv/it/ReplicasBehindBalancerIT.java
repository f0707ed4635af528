package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.exception.LangChain4jException;
import dev.langchain4j.memory.chat.MessageWindowChatMemory;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiTokenUsage;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.MemoryId;
import dev.langchain4j.service.Result;
import dev.langchain4j.service.UserMessage;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvConfig;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several hosts: two llama-server replicas of the natives build (kvtiny, DeltaKV with the vendored compressor) behind
 * HAProxy with the repository's configuration (deploy/haproxy.cfg), reached through LangChain4j's OpenAI-compatible
 * client with the same AiServices code as in-process. A conversation's header keeps it on one replica, so its later
 * turns reuse their prefix there; when a replica dies its conversations continue on the other, evaluated again, and
 * a call that cannot complete fails with a LangChain4j exception, never a wrong answer. Loopback only.
 */
class ReplicasBehindBalancerIT {

    /** The application's code: plain LangChain4j, one conversation per memory id. */
    interface Assistant {
        Result<String> chat(@MemoryId String conversation, @UserMessage String message);
    }

    /** The conversation the calling thread speaks for: the balancer's affinity header. */
    private static final ThreadLocal<String> CONVERSATION = new ThreadLocal<>();

    private static final Path COMPRESSOR = Path.of("..", "models", "kvtiny-retrieval.deltakv.gguf");
    private static final int CONVERSATIONS = 16;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS) // the replicas' and HAProxy's logs stay when a test fails
    static Path logs;

    private static LlamaServerReplicas replicas;
    private static HaproxyBalancer balancer;

    @BeforeAll
    static void start() throws Exception {
        // the demo's DeltaKV settings: the vendored compressor, every compressed token rebuilt (kvtiny has 6 layers)
        List<String> args = List.of("-m", TestModels.kvtiny().toString(), "--deltakv", COMPRESSOR.toString(),
                "--deltakv-top-k", "16384", "-c", "16384", "-np", "8", "-kvu", "-t", "1", "--metrics");
        replicas = LlamaServerReplicas.start(2, logs, args);
        balancer = HaproxyBalancer.start(replicas.ports(), logs);
    }

    @AfterAll
    static void stop() throws Exception {
        if (balancer != null) {
            balancer.close();
        }
        if (replicas != null) {
            replicas.close();
        }
    }

    /** The one builder line that differs from in-process use: LangChain4j's OpenAI client against the balancer. */
    private static ChatModel remote() {
        return OpenAiChatModel.builder()
                .baseUrl(balancer.baseUrl())
                .apiKey("none")
                .modelName("kvtiny")
                .temperature(0.0)
                .maxTokens(16)
                .timeout(Duration.ofMinutes(3))
                .customHeaders(() -> Map.of(HaproxyBalancer.CONVERSATION_HEADER, CONVERSATION.get()))
                .build();
    }

    private static Assistant assistant(ChatModel model) {
        return AiServices.builder(Assistant.class)
                .chatModel(model)
                .chatMemoryProvider(id -> MessageWindowChatMemory.withMaxMessages(20))
                .build();
    }

    private static String question(Haystacks.Needle needle) {
        return "What is the special magic number for " + needle.key() + " mentioned in the provided text?";
    }

    @Test
    void the_same_ai_service_runs_in_process_or_against_the_replicas() throws Exception {
        Haystacks.Needle needle = Haystacks.needle(1500, 0.4, 101);
        CONVERSATION.set("switch");
        try (DeltaKvChatModel local = DeltaKvChatModel.builder().modelPath(TestModels.kvtiny()).contextSize(4096)
                .threads(TestModels.threads()).temperature(0.0).maxTokens(16)
                .deltaKv(DeltaKvConfig.builder().compressorPath(COMPRESSOR).topK(4096).build()).build()) {
            for (ChatModel model : List.of(local, remote())) {
                assertThat(assistant(model).chat("switch", needle.message()).content().strip())
                        .as("%s", model.getClass().getSimpleName()).isEqualTo(needle.answer());
            }
        } finally {
            CONVERSATION.remove();
        }
    }

    @Test
    void conversations_keep_their_replica_and_survive_one_that_dies() throws Exception {
        Assistant assistant = assistant(remote());
        List<Haystacks.Needle> needles = new ArrayList<>();
        for (int c = 0; c < CONVERSATIONS; c++) {
            needles.add(Haystacks.needle(1200, 0.1 + 0.05 * c, 200 + c));
        }
        ExecutorService pool = Executors.newFixedThreadPool(CONVERSATIONS);
        try {
            // turn 1: each conversation reads its document; turn 2: the same question again, a follow-up whose prefix
            // (document, question, answer) the replica already holds
            List<Future<Turn>> first = new ArrayList<>();
            for (int c = 0; c < CONVERSATIONS; c++) {
                first.add(pool.submit(call(assistant, "conversation-" + c, needles.get(c).message())));
            }
            List<Future<Turn>> second = new ArrayList<>();
            for (int c = 0; c < CONVERSATIONS; c++) {
                Turn t = first.get(c).get(5, TimeUnit.MINUTES);
                assertThat(t.answer()).as("conversation %d, turn 1", c).isEqualTo(needles.get(c).answer());
                second.add(pool.submit(call(assistant, "conversation-" + c, question(needles.get(c)))));
            }
            for (int c = 0; c < CONVERSATIONS; c++) {
                Turn t = second.get(c).get(5, TimeUnit.MINUTES);
                assertThat(t.answer()).as("conversation %d, turn 2", c).isEqualTo(needles.get(c).answer());
                // its replica reused the prefix: only the new question (tens of tokens) was evaluated
                assertThat(t.cachedTokens()).as("conversation %d, turn 2: prompt tokens from the replica's cache", c)
                        .isGreaterThan(t.promptTokens() - 64);
            }
            for (int r = 0; r < 2; r++) {
                assertThat(promptTokensTotal(replicas.metrics(r))).as("replica %d served conversations", r)
                        .isPositive();
            }

            // one replica dies while turn 3 runs: every conversation gets its answer, from either replica (HAProxy and
            // the client retry a request the dead replica dropped); a call that still fails, fails in LangChain4j and
            // succeeds when made again
            List<Future<Turn>> third = new ArrayList<>();
            for (int c = 0; c < CONVERSATIONS; c++) {
                third.add(pool.submit(call(assistant, "conversation-" + c, question(needles.get(c)))));
            }
            Thread.sleep(300);
            replicas.kill(0);
            int failed = 0;
            int evaluatedAgain = 0;
            for (int c = 0; c < CONVERSATIONS; c++) {
                Turn t = third.get(c).get(5, TimeUnit.MINUTES);
                if (t.error() != null) {
                    // after the client's own retries: an exception of LangChain4j's (its HTTP client wraps a dropped
                    // connection in a RuntimeException)
                    assertThat(t.error() instanceof LangChain4jException
                            || t.error().getStackTrace()[0].getClassName().startsWith("dev.langchain4j."))
                            .as("conversation %d, turn 3 failed in LangChain4j: %s", c, t.error()).isTrue();
                    failed++;
                    t = pool.submit(call(assistant, "conversation-" + c, question(needles.get(c))))
                            .get(5, TimeUnit.MINUTES);
                }
                assertThat(t.error()).as("conversation %d, turn 3", c).isNull();
                assertThat(t.answer()).as("conversation %d, turn 3", c).isEqualTo(needles.get(c).answer());
                evaluatedAgain += t.cachedTokens() < t.promptTokens() / 2 ? 1 : 0;
            }
            // the dead replica's conversations moved: the survivor evaluated their history again
            assertThat(evaluatedAgain).as("conversations evaluated again on the surviving replica").isPositive();
            System.out.printf("replica 1 killed during turn 3: %d of %d conversations evaluated again on replica 2, "
                    + "%d calls failed with a LangChain4j exception and were made again%n", evaluatedAgain,
                    CONVERSATIONS, failed);
        } finally {
            pool.shutdownNow();
        }
    }

    /** One call's answer and prompt usage, or the exception it ended with. */
    record Turn(String answer, int promptTokens, int cachedTokens, Exception error) {
    }

    private static java.util.concurrent.Callable<Turn> call(Assistant assistant, String conversation, String message) {
        return () -> {
            CONVERSATION.set(conversation);
            try {
                Result<String> r = assistant.chat(conversation, message);
                OpenAiTokenUsage usage = (OpenAiTokenUsage) r.tokenUsage();
                Integer cached = usage.inputTokensDetails() == null ? null : usage.inputTokensDetails().cachedTokens();
                return new Turn(r.content().strip(), usage.inputTokenCount(), cached == null ? 0 : cached, null);
            } catch (RuntimeException e) {
                return new Turn(null, 0, 0, e);
            } finally {
                CONVERSATION.remove();
            }
        };
    }

    private static double promptTokensTotal(String metrics) {
        for (String line : metrics.split("\n")) {
            if (line.startsWith("llamacpp:prompt_tokens_total ")) {
                return Double.parseDouble(line.substring(line.indexOf(' ') + 1).strip());
            }
        }
        return 0;
    }
}
