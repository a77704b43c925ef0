"""rfhound host side: link, session store, CLI, simulator, console and lab bench."""
