"""The API faces: each contract's paths, shapes, status codes and error envelope over the core."""
