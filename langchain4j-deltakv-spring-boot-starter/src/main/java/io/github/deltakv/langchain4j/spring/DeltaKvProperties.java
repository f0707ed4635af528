package io.github.deltakv.langchain4j.spring;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;

/** {@code langchain4j.deltakv.*}: the model and its defaults. Unset values keep the provider's defaults. */
@ConfigurationProperties(prefix = DeltaKvProperties.PREFIX)
public class DeltaKvProperties {

    public static final String PREFIX = "langchain4j.deltakv";

    /** The model, its serving limits and the default request parameters of both chat models. */
    @NestedConfigurationProperty
    private ChatModelProperties chatModel = new ChatModelProperties();

    /** DeltaKV compressed KV memory. */
    @NestedConfigurationProperty
    private DeltaKvConfigProperties deltaKv = new DeltaKvConfigProperties();

    /** Sink + recent-window eviction on the stock cache (the StreamingLLM baseline). */
    @NestedConfigurationProperty
    private KvEvictionProperties kvEviction = new KvEvictionProperties();

    public ChatModelProperties getChatModel() {
        return chatModel;
    }

    public void setChatModel(ChatModelProperties chatModel) {
        this.chatModel = chatModel;
    }

    public DeltaKvConfigProperties getDeltaKv() {
        return deltaKv;
    }

    public void setDeltaKv(DeltaKvConfigProperties deltaKv) {
        this.deltaKv = deltaKv;
    }

    public KvEvictionProperties getKvEviction() {
        return kvEviction;
    }

    public void setKvEviction(KvEvictionProperties kvEviction) {
        this.kvEviction = kvEviction;
    }
}
