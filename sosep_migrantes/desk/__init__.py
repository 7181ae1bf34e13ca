"""The reception desk: an arrival's families registered, served and referred on one screen."""
