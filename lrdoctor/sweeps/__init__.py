"""Parts of sweep reading that stand alone: LR range tests (`finder`), which runs form a
sweep (`grouping`), and how swept values are read and written (`values`)."""
