"""Remote nodes over SSH: inventory, connection, the script a node runs, node, process."""
