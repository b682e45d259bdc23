// Placeholder so the target builds; the peer transport lands here.
