package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DeltaKV memory with kvtiny's layers split over two devices (llama.cpp's layer split), against the same
 * memory on one device (deltakv-split-test). The two devices are CPUs served by two ggml-rpc-server processes
 * on the loopback address, as GPUs of one host or of several hosts would be: each layer's DeltaKV storage and
 * compressor live on its device, and the full layer on the first device chooses the tokens that the layers on
 * the second device rebuild. An identity compressor gives the stock cache's logits; a random int4 compressor
 * gives the single-device run's, with top-k decode and with every token rebuilt.
 */
class DeltaKvSplitTest {

    @TempDir
    Path tmp;

    private final List<Process> servers = new ArrayList<>();

    @AfterEach
    void stopServers() throws InterruptedException {
        for (Process p : servers) {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void layers_split_over_two_devices_compute_what_one_device_computes() throws Exception {
        Path model = NativeTools.model("kvtiny-retrieval-q8_0.gguf");
        Path identity = tmp.resolve("identity.gguf");
        Path random = tmp.resolve("random.gguf");
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", model.toString(), identity.toString()).exit()).isZero();
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", model.toString(), random.toString(), "--kind", "random",
                "--latent-dim", "64", "--bits", "4").exit()).isZero();
        String endpoints = startServer() + "," + startServer();

        NativeTools.Run r = NativeTools.run(tmp, "deltakv-split-test", model.toString(), NativeTools.text().toString(),
                identity.toString(), random.toString(), "--rpc", endpoints);

        assertThat(r.output()).doesNotContain("FAIL ").contains("0 failure(s)");
        assertThat(r.output()).contains("PASS split-layout-layers", "PASS split-layout-memory", "PASS split-stock",
                "PASS split-identity-topk", "PASS split-random-topk", "PASS split-random-all");
        assertThat(r.exit()).isZero();
    }

    /** A ggml-rpc-server with one thread on a free loopback port; its endpoint once it accepts connections. */
    private String startServer() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort();
        }
        Process p = new ProcessBuilder(NativeTools.bin().resolve("ggml-rpc-server").toString(), "-H", "127.0.0.1",
                "-p", Integer.toString(port), "-t", "1")
                .redirectErrorStream(true).redirectOutput(tmp.resolve("rpc-" + port + ".log").toFile()).start();
        servers.add(p);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return "127.0.0.1:" + port;
            } catch (IOException notYet) {
                assertThat(p.isAlive()).as("ggml-rpc-server on port %d is running", port).isTrue();
                assertThat(System.nanoTime()).as("ggml-rpc-server on port %d listens within 30 s", port).isLessThan(deadline);
                Thread.sleep(100);
            }
        }
    }
}
