"""crmkit_jupyter: IPython extension and ipywidgets dashboard for crmkit."""
