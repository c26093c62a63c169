"""The local online endpoint's data plane: the scoring router, its rolling metrics and data collector."""
