"""Tools (edge): command-line input tooling — file recognition, loaders and replay through the ingest path."""
