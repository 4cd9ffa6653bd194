"""The Gradio app over the rag library (see ui/app.py)."""
