"""Documents: files that travel with the exchanges (a court decision, a signed answer, a
screenshot), stored encrypted, bound to the evidence of the step that carries them."""
