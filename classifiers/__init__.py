"""The flag classifier: features, pipeline, training and artifacts; no Flask, no database."""
