"""Whole-video analysis: spot the expressions of a long video, recognise them, draw the timeline."""
