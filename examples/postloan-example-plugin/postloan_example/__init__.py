"""Example postloan plugins, each with a settings model validated from its section of config/plugins.yaml."""
