"""The browser chat for rag (``rag serve``): a Gradio app over an index."""
