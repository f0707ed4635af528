package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.data.message.UserMessage;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvEngine;
import io.github.deltakv.langchain4j.DeltaKvException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DeltaKV side files mutated at random and along their structure (metadata values, arrays, strings, tensor
 * descriptions, tensor data, truncation): each one is refused with a DeltaKvException or loads and answers a prompt
 * long enough to be compressed, in this JVM; none kills it or hangs.
 */
class SideFileFuzzIT {

    private static final int CASES = 280;
    private static final int[] BOUNDARY_INTS = {0, 1, -1, 2, 3, 7, 8, 9, 31, 32, 33, 127, 255, 256, 65535,
            Integer.MAX_VALUE, Integer.MIN_VALUE, 1 << 20};
    private static final float[] BAD_FLOATS = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.MAX_VALUE, -Float.MAX_VALUE, 1e30f};

    enum Mutation { HEADER_BYTES, NUMBER, STRING, ARRAY, TENSOR_INFO, TENSOR_DATA, TRUNCATION }

    @TempDir
    Path tmp;

    @Test
    void mutated_side_files_are_refused_or_run() throws Exception {
        Path[] originals = {DeltaKvMemoryIT.sideFile("kvtiny-identity.deltakv.gguf"),
                DeltaKvMemoryIT.sideFile("kvtiny-random-d64-int4.deltakv.gguf")};
        String prompt = Haystacks.needle(600, 0.3, 3).message(); // past the sink and recent window: compressed
        Random random = new Random(7);
        Map<Mutation, int[]> outcomes = new EnumMap<>(Mutation.class); // per mutation: refused, ran
        for (int i = 0; i < CASES; i++) {
            Mutation mutation = Mutation.values()[i % Mutation.values().length];
            byte[] original = Files.readAllBytes(originals[(i / Mutation.values().length) % originals.length]);
            Path file = Files.write(tmp.resolve("mutated-" + i + ".deltakv.gguf"), mutate(original, mutation, random));
            int[] counts = outcomes.computeIfAbsent(mutation, m -> new int[2]);
            try (DeltaKvEngine engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(1024)
                    .batchSize(1024).maxSequences(1).threads(TestModels.threads())
                    .deltaKv(DeltaKvConfig.of(file)).build()) {
                DeltaKvChatModel model = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(4)
                        .build();
                try {
                    assertThat(model.chat(ChatRequest.builder().messages(UserMessage.from(prompt)).build())
                            .aiMessage()).isNotNull();
                    counts[1]++;
                } catch (DeltaKvException e) {
                    assertThat(e.getMessage()).isNotBlank();
                    counts[0]++;
                }
            } catch (DeltaKvException e) {
                assertThat(e.getMessage()).isNotBlank();
                counts[0]++;
            }
            Files.delete(file);
        }
        System.out.println("side-file fuzzer, " + CASES + " cases, per mutation [refused, ran]: "
                + outcomes.entrySet().stream().map(e -> e.getKey() + "=" + Arrays.toString(e.getValue())).toList());

        assertThat(outcomes.values().stream().mapToInt(c -> c[0] + c[1]).sum()).isEqualTo(CASES);
        assertThat(outcomes.get(Mutation.NUMBER)[0]).as("out-of-range settings refused").isPositive();
        assertThat(outcomes.get(Mutation.TENSOR_DATA)[0]).as("non-finite weights refused").isPositive();
        assertThat(outcomes.get(Mutation.TRUNCATION)[0]).as("truncated files refused").isPositive();
        // the valid side file still loads and answers after all that
        Haystacks.Needle needle = Haystacks.needle(600, 0.3, 3);
        try (DeltaKvEngine engine = DeltaKvEngine.builder().modelPath(TestModels.kvtiny()).contextSize(1024)
                .batchSize(1024).maxSequences(1).threads(TestModels.threads())
                .deltaKv(DeltaKvConfig.of(originals[0])).build()) {
            String answer = DeltaKvChatModel.builder().engine(engine).temperature(0.0).maxTokens(16).build()
                    .chat(needle.message());
            assertThat(answer.strip()).isEqualTo(needle.answer());
        }
    }

    static byte[] mutate(byte[] original, Mutation mutation, Random random) {
        byte[] out = original.clone();
        GgufLayout layout = new GgufLayout(original);
        ByteBuffer buf = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        switch (mutation) {
            case HEADER_BYTES -> {
                for (int m = 1 + random.nextInt(8); m > 0; m--) {
                    out[4 + random.nextInt(layout.headerEnd - 4)] = (byte) random.nextInt(256);
                }
            }
            case NUMBER -> {
                GgufLayout.Value v = pick(layout, random, t -> t != GgufLayout.TYPE_STRING && t != GgufLayout.TYPE_ARRAY);
                if (v.type() == 6) {
                    buf.putFloat(v.offset(), BAD_FLOATS[random.nextInt(BAD_FLOATS.length)]);
                } else if (v.length() >= 4) {
                    buf.putInt(v.offset(), BOUNDARY_INTS[random.nextInt(BOUNDARY_INTS.length)]);
                } else {
                    out[v.offset()] = (byte) random.nextInt(256);
                }
            }
            case STRING -> {
                GgufLayout.Value v = pick(layout, random, t -> t == GgufLayout.TYPE_STRING);
                if (random.nextBoolean()) { // its length
                    buf.putLong(v.offset(), random.nextBoolean() ? random.nextInt(v.length() + 16) : Long.MAX_VALUE);
                } else { // its text
                    for (int i = v.offset() + 8; i < v.offset() + v.length(); i++) {
                        out[i] = (byte) (32 + random.nextInt(95));
                    }
                }
            }
            case ARRAY -> {
                GgufLayout.Value v = pick(layout, random, t -> t == GgufLayout.TYPE_ARRAY);
                switch (random.nextInt(3)) {
                    case 0 -> buf.putInt(v.offset(), random.nextInt(14)); // element type
                    case 1 -> buf.putLong(v.offset() + 4, random.nextBoolean() ? random.nextInt(64) : Long.MAX_VALUE);
                    default -> {
                        if (v.length() >= 16) { // an element
                            buf.putInt(v.offset() + 12, BOUNDARY_INTS[random.nextInt(BOUNDARY_INTS.length)]);
                        }
                    }
                }
            }
            case TENSOR_INFO -> {
                GgufLayout.TensorInfo t = layout.tensors.get(random.nextInt(layout.tensors.size()));
                switch (random.nextInt(4)) {
                    case 0 -> buf.putInt(t.dimsOffset(), random.nextInt(6)); // dimension count
                    case 1 -> buf.putLong(t.dimsOffset() + 4 + 8 * random.nextInt(t.nDims()), // a dimension
                            random.nextBoolean() ? random.nextInt(1024) : 1L << (20 + random.nextInt(40)));
                    case 2 -> buf.putInt(t.typeOffset(), random.nextInt(48)); // element type
                    default -> buf.putLong(t.dataOffsetOffset(), random.nextBoolean()
                            ? t.dataOffset() + 1 + random.nextInt(64) : (long) random.nextInt(out.length));
                }
            }
            case TENSOR_DATA -> {
                GgufLayout.TensorInfo t = layout.tensors.get(random.nextInt(layout.tensors.size()));
                long at = layout.dataStart + t.dataOffset();
                for (int m = 1 + random.nextInt(4); m > 0; m--) {
                    int i = (int) (at + 4L * random.nextInt((int) Math.min(t.elements(), (out.length - at) / 4)));
                    if (random.nextBoolean()) {
                        buf.putFloat(i, BAD_FLOATS[random.nextInt(BAD_FLOATS.length)]);
                    } else {
                        buf.putInt(i, random.nextInt());
                    }
                }
            }
            case TRUNCATION -> {
                return Arrays.copyOf(out, random.nextInt(out.length));
            }
        }
        return out;
    }

    private static GgufLayout.Value pick(GgufLayout layout, Random random, java.util.function.IntPredicate type) {
        var candidates = layout.values.stream().filter(v -> type.test(v.type())).toList();
        return candidates.get(random.nextInt(candidates.size()));
    }
}
