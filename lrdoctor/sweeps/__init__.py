"""Parts of sweep reading that stand alone: LR range tests (`finder`)."""
