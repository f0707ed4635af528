package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvStats;
import io.github.deltakv.langchain4j.SplitMode;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The provider with kvtiny's layers split over two devices (llama.cpp's layer split, builder settings
 * {@code rpcServers}, {@code devices}, {@code splitMode}, {@code tensorSplit}). The devices are this machine's CPU
 * served twice by ggml-rpc-server on the loopback address, as the GPUs of one host or of several would be: the
 * DeltaKV memory lives on both, the full layer on the first chooses the tokens the layers on the second rebuild,
 * and the answers are the single-device answers. Placements that cannot work are refused when the model is built.
 */
class SplitDevicesIT {

    @TempDir
    Path tmp;

    private static DeltaKvChatModel.Builder kvtiny(DeltaKvConfig deltaKv) {
        return DeltaKvChatModel.builder()
                .modelPath(TestModels.kvtiny())
                .contextSize(4096)
                .batchSize(512)
                .maxSequences(1)
                .threads(TestModels.threads())
                .temperature(0.0)
                .maxTokens(12)
                // flash attention off: with it on, stock llama.cpp's own layer split already differs from its one-device
                // run (deltakv-split-test --fa on: max_rel 2.4e-2, one step's top-1 of 25); off, both compute the same
                .flashAttention(false)
                .deltaKv(deltaKv);
    }

    /** Needles at three depths; each answer and the DeltaKV statistics after it. */
    private static List<String> answers(DeltaKvChatModel model, List<DeltaKvStats> stats) {
        List<String> out = new ArrayList<>();
        for (double depth : new double[] {0.2, 0.5, 0.8}) {
            Haystacks.Needle needle = Haystacks.needle(3000, depth, 31);
            ChatResponse response = model.chat(UserMessage.from(needle.message()));
            out.add(response.aiMessage().text());
            stats.add(((DeltaKvChatResponseMetadata) response.metadata()).kvMemory().deltaKv());
        }
        return out;
    }

    @Test
    void deltakv_split_over_two_devices_answers_as_on_one_device() throws Exception {
        // int4 latents and top-256 decode: fewer tokens rebuilt than are compressed, so the choice made on the first
        // device decides what the second device's layers attend
        DeltaKvConfig deltaKv = DeltaKvConfig.builder()
                .compressorPath(DeltaKvMemoryIT.sideFile("kvtiny-random-d64-int4.deltakv.gguf")).topK(256).build();
        List<DeltaKvStats> oneStats = new ArrayList<>();
        List<String> one;
        try (DeltaKvChatModel model = kvtiny(deltaKv).gpuLayers(0).build()) {
            one = answers(model, oneStats);
        }
        try (RpcServers servers = RpcServers.start(2, tmp);
             DeltaKvChatModel model = kvtiny(deltaKv).rpcServers(servers.endpoints()).splitMode(SplitMode.LAYER).build()) {
            Map<String, Long> byDevice = model.engine().kvBytesByDevice();
            assertThat(byDevice.keySet()).as("KV memory by device")
                    .containsExactlyInAnyOrder("RPC0[" + servers.endpoints().get(0) + "]",
                            "RPC0[" + servers.endpoints().get(1) + "]");

            List<DeltaKvStats> twoStats = new ArrayList<>();
            List<String> two = answers(model, twoStats);

            assertThat(two).isEqualTo(one);
            for (int i = 0; i < one.size(); i++) {
                assertThat(twoStats.get(i).compressedTokens()).isGreaterThan(2000)
                        .isEqualTo(oneStats.get(i).compressedTokens());
            }
        }
    }

    @Test
    void the_share_of_each_device_follows_tensor_split() throws Exception {
        DeltaKvConfig identity = DeltaKvConfig.of(DeltaKvMemoryIT.sideFile("kvtiny-identity.deltakv.gguf"));
        try (RpcServers servers = RpcServers.start(2, tmp)) {
            // the second server first: the order of devices is the order of the layers
            List<String> devices = List.of(servers.endpoints().get(1), servers.endpoints().get(0));
            try (DeltaKvChatModel model = kvtiny(identity).rpcServers(servers.endpoints()).devices(devices)
                    .tensorSplit(List.of(1f, 5f)).build()) {
                Map<String, Long> byDevice = model.engine().kvBytesByDevice();
                // kvtiny's 6 layers in shares 1:5: the first device holds the full layer 0, the second the rest
                assertThat(byDevice.keySet()).containsExactlyInAnyOrder("RPC0[" + devices.get(0) + "]",
                        "RPC0[" + devices.get(1) + "]");
                assertThat(byDevice.get("RPC0[" + devices.get(1) + "]"))
                        .isGreaterThan(byDevice.get("RPC0[" + devices.get(0) + "]"));

                Haystacks.Needle needle = Haystacks.needle(3000, 0.5, 7);
                assertThat(model.chat(UserMessage.from(needle.message())).aiMessage().text().strip())
                        .isEqualTo(needle.answer());
            }
        }
    }

    @Test
    void a_row_split_needs_devices_that_split_matrices() throws Exception {
        // SplitMode.ROW splits each weight matrix by rows, which only CUDA devices support: refused on RPC devices
        DeltaKvConfig identity = DeltaKvConfig.of(DeltaKvMemoryIT.sideFile("kvtiny-identity.deltakv.gguf"));
        try (RpcServers servers = RpcServers.start(2, tmp)) {
            assertThatThrownBy(() -> kvtiny(identity).rpcServers(servers.endpoints()).splitMode(SplitMode.ROW).build())
                    .hasMessageContaining("does not support split buffers");
        }
    }

    @Test
    void placements_that_cannot_work_are_refused_with_the_reason() throws Exception {
        DeltaKvConfig identity = DeltaKvConfig.of(DeltaKvMemoryIT.sideFile("kvtiny-identity.deltakv.gguf"));
        assertThatThrownBy(() -> kvtiny(identity).rpcServers(List.of("127.0.0.1:1")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("RPC server 127.0.0.1:1 does not answer");
        assertThatThrownBy(() -> kvtiny(identity).rpcServers(List.of("localhost")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("host:port");
        assertThatThrownBy(() -> kvtiny(identity).devices(List.of("CUDA7")).build())
                .hasMessageContaining("no device named 'CUDA7'").hasMessageContaining("CPU");
        assertThatThrownBy(() -> kvtiny(identity).tensorSplit(List.of(1f, -1f)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tensorSplit");
        assertThatThrownBy(() -> kvtiny(identity).devices(List.of("CPU")).tensorSplit(List.of(1f, 1f)).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 proportions for 1 devices");
        assertThatThrownBy(() -> kvtiny(identity).mainGpu(-1).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("mainGpu");

        // a server that is not a ggml-rpc-server (it closes the connection at once): refused, the JVM goes on
        try (java.net.ServerSocket notRpc = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Thread closer = new Thread(() -> {
                try {
                    while (true) {
                        notRpc.accept().close();
                    }
                } catch (java.io.IOException closed) {
                    // the test is over
                }
            });
            closer.start();
            assertThatThrownBy(() -> kvtiny(identity).rpcServers(List.of("127.0.0.1:" + notRpc.getLocalPort())).build())
                    .hasMessageContaining("127.0.0.1:" + notRpc.getLocalPort());
        }
        try (DeltaKvChatModel model = kvtiny(identity).build()) {
            Haystacks.Needle needle = Haystacks.needle(1000, 0.5, 3);
            assertThat(model.chat(UserMessage.from(needle.message())).aiMessage().text().strip()).isEqualTo(needle.answer());
        }
    }
}
