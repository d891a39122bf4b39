"""The live view and the HTML report: a release and its history in the browser."""
