# Operation codes of the fake bus: the one table that host/virtual/mpy/machine.py (in the
# firmware's process) and host/virtual/bus.py (the chip fakes' end) both read.
OP_SPI_WRITE = 1
OP_SPI_XFER = 2
OP_PIN_WRITE = 3
OP_PIN_READ = 4
OP_I2C_WRITE_MEM = 5
OP_I2C_READ_MEM = 6
OP_I2C_WRITE = 7
OP_UART_READ = 8
OP_UART_WRITE = 9
OP_PWM = 10
OP_WDT = 11
OP_ADC = 12
OP_PIN_MODE = 13
