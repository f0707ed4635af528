package io.github.deltakv.langchain4j.spi;

import io.github.deltakv.langchain4j.DeltaKvChatModel;

import java.util.function.Supplier;

/** A service that supplies the builder {@link DeltaKvChatModel#builder()} returns (frameworks plug in here). */
public interface DeltaKvChatModelBuilderFactory extends Supplier<DeltaKvChatModel.Builder> {
}
