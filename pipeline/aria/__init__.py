"""The Aria family: LLaMA-style LM over "abs" MIDI tokens, contrastive embeddings, continuation."""
