"""The application: the command line, the experiment runner, the scorecard, plotting and study files."""
