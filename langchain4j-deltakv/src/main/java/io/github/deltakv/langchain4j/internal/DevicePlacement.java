package io.github.deltakv.langchain4j.internal;

import io.github.deltakv.langchain4j.SplitMode;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a model's layers go, checked: the split mode, the main device, the share of each device, the devices by
 * name and the RPC servers whose devices join them.
 */
public record DevicePlacement(SplitMode splitMode, int mainGpu, List<Float> tensorSplit, List<String> devices,
                              List<String> rpcServers) {

    /** How long an RPC server may take to accept a connection before it is called unreachable. */
    private static final int CONNECT_TIMEOUT_MS = 5000;

    /** Checks the builder's settings (null: default) and makes a placement of them. */
    public static DevicePlacement of(SplitMode splitMode, Integer mainGpu, List<Float> tensorSplit, List<String> devices,
                                     List<String> rpcServers) {
        int main = mainGpu == null ? 0 : mainGpu;
        if (main < 0) {
            throw new IllegalArgumentException("mainGpu must be >= 0, got " + main);
        }
        List<Float> split = tensorSplit == null ? List.of() : List.copyOf(tensorSplit);
        double sum = 0;
        for (Float f : split) {
            if (!Float.isFinite(f) || f < 0) {
                throw new IllegalArgumentException("tensorSplit proportions must be finite and >= 0, got " + split);
            }
            sum += f;
        }
        if (!split.isEmpty() && sum <= 0) {
            throw new IllegalArgumentException("tensorSplit needs a proportion above 0, got " + split);
        }
        List<String> devs = devices == null ? List.of() : List.copyOf(devices);
        if (!split.isEmpty() && !devs.isEmpty() && split.size() > devs.size()) {
            throw new IllegalArgumentException("tensorSplit has " + split.size() + " proportions for " + devs.size()
                    + " devices " + devs);
        }
        List<String> servers = rpcServers == null ? List.of() : List.copyOf(rpcServers);
        for (String s : servers) {
            endpoint(s);
        }
        return new DevicePlacement(splitMode == null ? SplitMode.LAYER : splitMode, main, split, devs, servers);
    }

    /** The devices of this placement's RPC servers, by name, once connected. */
    public record Connected(List<String> devices, List<String> rpcDevices) {
    }

    /**
     * Registers the RPC servers' devices with ggml (each server must accept a connection first) and names the devices
     * to use: those given, where an RPC server's endpoint stands for its devices.
     */
    public Connected connectRpcServers() {
        Map<String, List<String>> byServer = new LinkedHashMap<>();
        for (String s : rpcServers) {
            InetSocketAddress address = endpoint(s);
            try (Socket socket = new Socket()) {
                socket.connect(address, CONNECT_TIMEOUT_MS);
            } catch (IOException e) {
                throw new IllegalArgumentException("RPC server " + s + " does not answer: " + e.getMessage(), e);
            }
            byServer.put(s, List.of(LlamaNative.addRpcServer(s)));
        }
        List<String> named = new ArrayList<>();
        for (String d : devices) {
            named.addAll(byServer.getOrDefault(d, List.of(d)));
        }
        List<String> rpcDevices = new ArrayList<>();
        byServer.values().forEach(rpcDevices::addAll);
        return new Connected(List.copyOf(named), List.copyOf(rpcDevices));
    }

    /** The proportions for the native call, or null for "by free memory". */
    public float[] nativeTensorSplit() {
        if (tensorSplit.isEmpty()) {
            return null;
        }
        float[] out = new float[tensorSplit.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = tensorSplit.get(i);
        }
        return out;
    }

    private static InetSocketAddress endpoint(String s) {
        int colon = s == null ? -1 : s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new IllegalArgumentException("an RPC server is host:port, got '" + s + "'");
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("an RPC server is host:port, got '" + s + "'");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("an RPC server's port is 1 to 65535, got '" + s + "'");
        }
        return new InetSocketAddress(s.substring(0, colon), port);
    }
}
