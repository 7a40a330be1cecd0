mod approve;
